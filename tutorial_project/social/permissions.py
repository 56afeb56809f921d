from djangochannelsrestframework.permissions import IsAuthenticated

# Actions that change nothing: anyone connected may use them.
READ_ACTIONS = frozenset(
    {
        "list",
        "retrieve",
        "subscribe_to_hashtag",
        "unsubscribe_from_hashtag",
        "subscribe_to_list",
        "unsubscribe_from_list",
    }
)


class IsAuthenticatedForWrite(IsAuthenticated):
    """Anyone may read and follow posts; only a signed-in user may write.

    Built on DCRF's IsAuthenticated, which reads scope["user"]. DRF's
    IsAuthenticated, which DCRF would wrap, judges a request built from the scope,
    and lets through a connection whose scope has no user at all.
    """

    async def has_permission(self, scope, consumer, action, **kwargs) -> bool:
        if action in READ_ACTIONS:
            return True
        return bool(await super().has_permission(scope, consumer, action, **kwargs))
