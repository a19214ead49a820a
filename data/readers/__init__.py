"""One module per corpus format; each exposes ``read(folder, split, report) -> list[Document]``."""
