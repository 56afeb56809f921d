"""Error replies for messages that DCRF 1.3 would let crash the connection.

DCRF answers a well-formed message that fails (validation, permission, not found)
with an error reply. A malformed one, though, raises inside the consumer, and
Channels closes the socket without a word: text that is not JSON, JSON that is not
an object, an action called without an argument it needs, a binary frame. A client
then cannot tell its mistake from a network failure, and loses its subscriptions.

EnvelopeMixin checks the envelope before DCRF dispatches it, and answers every
problem in DCRF's own error shape (errors, data, action, response_status,
request_id), so clients handle all errors one way and the connection stays open.
"""

import inspect

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError

from .limits import limit

# Arguments DCRF passes to every action itself, never taken from the message.
DCRF_ARGUMENTS = frozenset({"request_id", "action"})


class MessageTooLong(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Message too long."
    default_code = "message_too_long"


class EnvelopeMixin:
    """Mix into an AsyncAPIConsumer, before it in the bases."""

    @property
    def max_message_length(self):
        """SOCIAL_LIMITS["MAX_MESSAGE_LENGTH"]: the largest valid message (a
        256-character post) is far below it; it stops a client from making the
        server parse megabytes of JSON."""
        return limit("MAX_MESSAGE_LENGTH")

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = await self.decode_message(text_data, bytes_data)
        except APIException as error:
            await self.handle_exception(error, action=None, request_id=None)
            return
        await self.receive_json(content, **kwargs)

    async def decode_message(self, text_data, bytes_data):
        if text_data is None:
            raise ParseError("Send each message as a text frame holding a JSON object.")
        if len(text_data) > self.max_message_length:
            raise MessageTooLong(
                f"A message may hold at most {self.max_message_length} characters "
                f"(this one has {len(text_data)})."
            )
        try:
            return await self.decode_json(text_data)
        except ValueError as error:
            raise ParseError(f"The message is not valid JSON: {error}.") from error

    async def receive_json(self, content, **kwargs):
        request_id = content.get("request_id") if isinstance(content, dict) else None
        action = content.get("action") if isinstance(content, dict) else None
        try:
            self.check_envelope(content)
        except APIException as error:
            if not isinstance(action, str):
                action = None
            await self.handle_exception(error, action=action, request_id=request_id)
            return
        await super().receive_json(content, **kwargs)

    def check_envelope(self, content):
        """Raise a ValidationError unless `content` can be dispatched to an action."""
        if not isinstance(content, dict):
            raise ValidationError(
                "Expected a JSON object, such as "
                '{"action": "list", "request_id": 1}, '
                f"not a JSON {type(content).__name__}."
            )
        if "action" in content and not isinstance(content["action"], str):
            raise ValidationError({"action": ["The action must be a string."]})
        method_name = self.available_actions.get(content.get("action"))
        if method_name is not None:
            missing = self.missing_arguments(getattr(self, method_name), content)
            if missing:
                raise ValidationError({name: ["This field is required."] for name in missing})

    @staticmethod
    def missing_arguments(method, content) -> list[str]:
        """Parameters the action requires that the message does not carry."""
        missing = []
        for name, parameter in inspect.signature(method).parameters.items():
            required = parameter.default is inspect.Parameter.empty and parameter.kind in (
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                inspect.Parameter.KEYWORD_ONLY,
            )
            if required and name not in DCRF_ARGUMENTS and name not in content:
                missing.append(name)
        return missing

    async def handle_exception(self, exc, action, request_id):
        """DCRF re-raises anything that is not an API error, which closes the
        connection. Log it as DCRF does, then answer 500 and keep the connection."""
        try:
            await super().handle_exception(exc, action=action, request_id=request_id)
        except Exception:
            await self.reply(
                action=action,
                errors=["Internal server error."],
                status=status.HTTP_500_INTERNAL_SERVER_ERROR,
                request_id=request_id,
            )
