from services.web.features.fiches import routes as routes
