from services.web.features.orienter import routes as routes
