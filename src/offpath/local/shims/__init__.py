"""Launchers run by a backend's own interpreter (its virtual environment has no offpath).

Each file here is executed by path, imports only the standard library and its
backend, and loads into the backend's process what the emulator needs from it: a
clock the tests can move, and a count of the requests served.
"""
