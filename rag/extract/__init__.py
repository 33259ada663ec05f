"""Extract: find the papers a digest names, with their authors, institutions and links.

Per passage, :mod:`~rag.extract.mentions` finds where a paper is named (titles from
:mod:`~rag.extract.titles`, author groups from :mod:`~rag.extract.authors`); per corpus,
:mod:`~rag.extract.papers` merges mentions into one record per paper by blocking keys (titles
keyed and compared through :mod:`~rag.extract.title_forms`), joins the arXiv metadata
(:mod:`~rag.extract.metadata`, its blocking index kept as :mod:`~rag.extract.key_blocks` arrays),
links passages that name a paper only by its short name (:mod:`~rag.extract.paper_links`) and
checks the digest's attribution against the paper's own author list
(:mod:`~rag.extract.attribution`). :mod:`~rag.extract.cache` keeps each digest's extraction by
its content hash. Build side only: queries never import this package,
except the attribution check that answers and source cards show.
"""
