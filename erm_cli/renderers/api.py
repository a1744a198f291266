def render(*a, **k): raise NotImplementedError
def render_many(*a, **k): raise NotImplementedError
