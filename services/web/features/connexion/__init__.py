from services.web.features.connexion import routes as routes
