from services.web.features.a_propos import routes as routes
