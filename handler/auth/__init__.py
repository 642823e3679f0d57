"""Token and password code that the $connect authorizer and the services share: issuing and
checking wschat's JWTs (`tokens.py`) and hashing passwords (`passwords.py`). It lives in the
handler package so that the authorizer depends on the handler package and never the other way."""
