"""The source article's consumer, written for Channels 4 / DCRF 1.3 exactly as the
article wrote it (its hashtag rule, bare send_json, string compare, no request_id),
so the tests can show where current DCRF no longer does what the article says."""
import re

from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.observer import model_observer

from social.models import Post


class ArticleConsumer(GenericAsyncAPIConsumer):
    queryset = Post.objects.all()

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
