"""The Gradio app's presentation, beside ``app.py``: HTML rendering, chat glue, page assets.

:mod:`ui.render` (answers and source cards as safe HTML), :mod:`ui.conversation` (follow-up
questions made standalone from the previous Answer), :mod:`ui.handlers` (the event handlers),
:mod:`ui.chats` (saved chats), :mod:`ui.papers` (the Papers tab), :mod:`ui.serve`,
:mod:`ui.style` and :mod:`ui.script` (launch, CSS, page script). ``app.py`` wires them.
"""
