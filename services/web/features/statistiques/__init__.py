from services.web.features.statistiques import routes as routes
