"""The source article's consumer, as the article wrote it, on Channels 4 / DCRF 1.3:
its hashtag rule, its bare send_json(message), its string comparison with the
action, its subscriptions without a request_id. The tests use it to show where
current DCRF no longer does what the article says; the benchmark, to measure it.

Import it once Django is set up. Anyone may write here (AllowAny): permissions are
not what either of them looks at.
"""

import re

from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import CreateModelMixin
from djangochannelsrestframework.observer import model_observer
from djangochannelsrestframework.permissions import AllowAny

from social.models import Post
from social.serializers import PostSerializer


class ArticleConsumer(CreateModelMixin, GenericAsyncAPIConsumer):
    queryset = Post.objects.all()
    serializer_class = PostSerializer
    permission_classes = (AllowAny,)

    @model_observer(Post)
    async def post_change_handler(self, message, observer=None, **kwargs):
        await self.send_json(message)

    @post_change_handler.groups_for_signal
    def post_change_handler(self, instance: Post, **kwargs):
        for hashtag in re.findall(r"#[a-z0-9]+", instance.body.lower()):
            yield f"-hashtag-{hashtag}"

    @post_change_handler.groups_for_consumer
    def post_change_handler(self, hashtag=None, list=False, **kwargs):
        if hashtag is not None:
            yield f"-hashtag-#{hashtag}"

    @post_change_handler.serializer
    def post_change_handler(self, instance: Post, action, **kwargs):
        if action == "delete":
            return {"pk": instance.pk}
        return {"pk": instance.pk, "data": {"body": instance.body}}

    @action()
    async def subscribe_to_hashtag(self, hashtag, **kwargs):
        await self.post_change_handler.subscribe(hashtag=hashtag)
        return {}, 201

    @action()
    async def unsubscribe_from_hashtag(self, hashtag, **kwargs):
        await self.post_change_handler.unsubscribe(hashtag=hashtag)
        return {}, 204
