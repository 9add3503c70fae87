from services.web.features.suivi import routes as routes
