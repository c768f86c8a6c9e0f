"""Answer providers: turn a question and the retrieved documents into an answer with citations.

One module per provider behind the ``AnswerProvider`` Protocol (protocol.py). The service never
trusts a provider's citations: routers/ask.py keeps only those naming a retrieved document.
"""
