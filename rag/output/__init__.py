"""Output: a structured ``Answer`` rendered for what leaves the process.

:mod:`~rag.output.markdown` (the CLI, the API and ``Answer.text``), :mod:`~rag.output.portable`
(self-contained markdown and JSON with absolute links) and :mod:`~rag.output.export` (BibTeX and
RIS). The app's HTML lives outside the package, in ``ui/render.py``.
"""
