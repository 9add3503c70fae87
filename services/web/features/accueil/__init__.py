from services.web.features.accueil import routes as routes
