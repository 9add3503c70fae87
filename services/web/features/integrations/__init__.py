from services.web.features.integrations import routes as routes
