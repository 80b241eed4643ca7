"""embedtut: the code behind the book "How the Keras Embedding layer really works".

Each module is named after a concept of the book:

* :mod:`embedtut.data` loads the real IMDB corpus (Maas et al. 2011), verified;
* :mod:`embedtut.sequences` turns it into the integer sequences Keras readers know;
* :mod:`embedtut.repro` seeds everything (:func:`seed_everything`);
* :mod:`embedtut.cache` keeps downloads and tokenised arrays, written atomically.
"""

from embedtut.repro import seed_everything

__version__ = "0.1.0"
__all__ = ["__version__", "seed_everything"]
