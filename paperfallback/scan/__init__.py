"""Scan-back: returned paper identified by the QR every printed page carries (issue #16).

Data flows one way: scanned file → page images → identified pages (form instance, page)
→ encrypted page store → status against the register. Nothing here guesses: a page whose
code cannot be read waits in a queue for a clerk who can see the image.
"""
