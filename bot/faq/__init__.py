"""FAQ retrieval: the store's FAQ corpus and the engine that answers policy questions.

Nothing here loads a model at import; build an engine with `FaqEngine.load(settings)`.
"""

from bot.faq.corpus import Corpus, CorpusError, FaqEntry, load_corpus
from bot.faq.engine import FaqEngine, SearchResult

__all__ = ["Corpus", "CorpusError", "FaqEngine", "FaqEntry", "SearchResult", "load_corpus"]
