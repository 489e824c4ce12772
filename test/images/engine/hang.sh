#!/bin/sh
# Stand-in AceStream engine, FAKE_MODE=hang: accept the HTTP connection, never answer, and
# hold it until the client gives up (closes) -- an engine whose HTTP server is wedged.
exec cat >/dev/null
