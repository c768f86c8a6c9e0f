"""POST /ask: answer a question from the caller's own documents, with checked citations."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from {{ cookiecutter.package_name }}.answer_providers.circuit_breaker import (
    ProviderUnavailableError,
)
from {{ cookiecutter.package_name }}.answer_providers.extractive import (
    NO_ANSWER,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProvider,
    AnswerProviderError,
    SourceDocument,
)
from {{ cookiecutter.package_name }}.citations import check_citations
from {{ cookiecutter.package_name }}.dependencies import (
    PrincipalDep,
    ResourcesDep,
    SessionDep,
    SettingsDep,
)
from {{ cookiecutter.package_name }}.retrieval import retrieve
from {{ cookiecutter.package_name }}.schemas import (
    RequestBody,
    SearchHit,
)
from {{ cookiecutter.package_name }}.search_query import (
    InvalidQueryError,
)

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])

MAX_QUESTION_LENGTH = 1_000
MAX_TOP_K = 20


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL; a 422 here beats a 500 from the search.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Question = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_LENGTH),
    AfterValidator(_no_nul),
]


class AskRequest(RequestBody):
    question: Question
    top_k: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TOP_K,
        description="Documents to retrieve; APP_ASK_TOP_K if unset.",
    )


class Citation(BaseModel):
    id: uuid.UUID
    title: str


class AskResponse(BaseModel):
    question: str
    answer: str
    provider: str
    citations: list[Citation] = Field(description="Retrieved documents the answer relies on.")
    retrieved: list[SearchHit] = Field(description="The documents the answer was drawn from.")
    rejected_citations: int = Field(
        ge=0,
        description="Citations the provider made that named no retrieved document: dropped.",
    )


async def get_answer_provider(resources: ResourcesDep) -> AnswerProvider:
    return resources.answer_provider


AnswerProviderDep = Annotated[AnswerProvider, Depends(get_answer_provider)]


@router.post("/ask")
async def ask(
    body: AskRequest,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    provider: AnswerProviderDep,
) -> AskResponse:
    """Retrieve the caller's top-k documents for the question and answer from them alone."""
    try:
        documents = await retrieve(
            session,
            tenant_id=principal.tenant_id,
            question=body.question,
            top_k=body.top_k or settings.ask_top_k,
        )
    except InvalidQueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    retrieved = [SearchHit(id=d.id, title=d.title, rank=d.rank) for d in documents]
    if not documents:
        # Nothing to answer from: no provider call (and no cost for a paid one).
        return AskResponse(
            question=body.question,
            answer=NO_ANSWER,
            provider=provider.name,
            citations=[],
            retrieved=[],
            rejected_citations=0,
        )
    sources = tuple(SourceDocument(id=str(d.id), title=d.title, body=d.body) for d in documents)
    try:
        answer = await provider.answer(question=body.question, documents=sources)
    except ProviderUnavailableError as exc:
        # The breaker is open: no call was made. Say when a retry may find it closed again.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc
    except AnswerProviderError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=str(exc)) from exc
    checked = check_citations(answer.citations, retrieved=(d.id for d in documents))
    if checked.rejected:
        logger.warning(
            "answer provider %s cited %d document(s) that were not retrieved; dropped",
            provider.name,
            len(checked.rejected),
        )
    titles = {d.id: d.title for d in documents}
    return AskResponse(
        question=body.question,
        answer=answer.text,
        provider=provider.name,
        citations=[Citation(id=i, title=titles[i]) for i in checked.accepted],
        retrieved=retrieved,
        rejected_citations=len(checked.rejected),
    )
