"""The Flask extensions, made once here so views can use their decorators (`@limiter.limit`,
`@sock.route`, `@csrf.exempt`); the app factory binds them to the app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sock import Sock
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
sock = Sock()
