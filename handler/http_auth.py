"""HTTP API entry points: POST /register, /login, /guest (each answers a token for the WebSocket)
POST /logout, and POST /refresh (a new access token for a refresh token). The work is AccountService's (handler/accounts.py).

Every failure is a JSON `{"error": "..."}` with a 4xx status (5xx only when the store or the
configuration fails); nothing a client sends can make these raise.
"""

from handler.app import app
from handler.entry import http_route

register = http_route("register", lambda event: app().account_service.register(event))
login = http_route("login", lambda event: app().account_service.login(event))
guest = http_route("guest", lambda event: app().account_service.guest(event))
logout = http_route("logout", lambda event: app().account_service.logout(event))
refresh = http_route("refresh", lambda event: app().account_service.refresh(event))
