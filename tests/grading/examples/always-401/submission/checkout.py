"""A tiny submission that answers 401 to everything: it earns what a 401 earns."""

from launchpad.http.web import ApiError, Request, WebApp


def create_app(env):
    app = WebApp("checkout")

    @app.post("/checkout")
    def checkout(request: Request):
        raise ApiError(401, "nobody gets in")

    return app
