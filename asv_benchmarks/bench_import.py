"""Cost of ``import transportkit`` in a fresh interpreter (it imports no array library)."""


def timeraw_import_transportkit():
    return "import transportkit"


def timeraw_import_and_numpy_backend():
    return "import transportkit; transportkit.get_backend('numpy')"
