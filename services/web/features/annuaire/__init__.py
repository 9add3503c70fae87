from services.web.features.annuaire import routes as routes
