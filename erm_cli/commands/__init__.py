"""Thin CLI verbs: parse options, call the library, print (rich or JSON). No logic lives here."""
