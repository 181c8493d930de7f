# Generated from docs/index.md by tools/tangle.py. Do not edit: change the chapter.
"""lama: a transformer built from scratch in tinygrad, written as a book.

Each module is generated from one chapter of the book (docs/); its first line names the chapter.
"""

__version__ = "0.1.0"
