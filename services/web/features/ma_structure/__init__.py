from services.web.features.ma_structure import routes as routes
