"""Test support for tests/ and bench/ alike: one of each thing a test or a drill needs.

- `server`: the live server (`python -m spaces.serve` in a subprocess), restartable, with seeded
  crowds of signed-in people; `app`: the app in-process (CSRF on, as in production) and test
  clients that send the page's CSRF token as htmx and forms do (`Client`, `Browser`).
- `passwords`: accounts without the cost of real password hashing.
- `http_user`: a person over real HTTP (`HttpUser`), who also opens websockets, listens and speaks.
- `websocket`: the raw websocket client (the handshake, frames, close codes).
- `listen` and `speak`: the listening and speaking clients (`Ear`, `Mouth`) on a thread.
- `audio`: the audio frame format, tones and real speech from ../shared/audio.
- `html_query`: reading pages the way a person does; `browser`: Chromium through Playwright.
- `waiting`: waiting for a condition with a deadline (`wait_until`), or watching that one holds
  for a stated time (`stays`).
- `procfs`: what /proc says about processes and TCP connections; `sqlite_lock`: another process
  holding the database's write lock.
"""
