ROUTES: list[object] = []
