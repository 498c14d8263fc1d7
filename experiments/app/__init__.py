"""The local web app for strategists (``winback app``): pages in ``pages/``, the logic
they call beside them."""
