"""Book tooling: the API the chapters call (`chapter`), the book's layout, its Sphinx
extension, the citation, and figure saving."""
