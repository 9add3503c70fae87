from services.web.features.equipe import routes as routes
