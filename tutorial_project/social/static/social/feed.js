// The live feed page: one WebSocket to the site's ws/, speaking the same JSON protocol
// as the notebooks. Plain JavaScript, no build step: read it top to bottom.
"use strict";

// ---------------------------------------------------------------------------
// LiveClient: requests matched to replies by request_id, events handed to a
// callback, and automatic reconnection with a growing delay.

// Close codes the server chooses for a reason the reader can act on
// (social/limits.py, social/outages.py): what the page says, and how long it waits before retrying.
const CLOSE_REASONS = {
  4429: { text: "too many open connections for your account: close another tab", delay: 15000 },
  // social/outages.py: the server lost its channel layer (Redis); posts are still stored
  4503: { text: "live updates are interrupted on the server", delay: 5000 },
};

class LiveClient {
  constructor(url, { onEvent, onOpen, onStatus, onProblem }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onOpen = onOpen; // returns a promise: the connection is live once it resolves
    this.onStatus = onStatus;
    this.onProblem = onProblem;
    this.nextRequestId = 1;
    this.pending = new Map(); // request_id -> {resolve, reject}
    this.retryDelay = 1000;
    this.connect();
  }

  connect() {
    this.onStatus("connecting", "connecting");
    this.socket = new WebSocket(this.url);
    const socket = this.socket;
    socket.addEventListener("open", () => {
      // "live" only once onOpen has restored the page's subscriptions: a reader who
      // sees "live" and posts must see the post arrive. If it fails (a subscribe
      // answers 503 while Redis is away), close, and try again later.
      Promise.resolve(this.onOpen()).then(
        () => {
          if (socket.readyState !== WebSocket.OPEN) return;
          this.retryDelay = 1000;
          this.onStatus("live", "live");
        },
        (error) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          this.onProblem(error);
          socket.close();
        },
      );
    });
    socket.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => this.reconnectLater(event.code));
  }

  reconnectLater(closeCode) {
    for (const { reject } of this.pending.values()) reject(new Error("connection lost"));
    this.pending.clear();
    const reason = CLOSE_REASONS[closeCode];
    const delay = Math.max(this.retryDelay, reason ? reason.delay : 0);
    this.retryDelay = Math.min(delay * 2, 15000);
    const retry = `reconnecting in ${delay / 1000} s`;
    this.onStatus("reconnecting", reason ? `${reason.text}; ${retry}` : retry);
    setTimeout(() => this.connect(), delay);
  }

  // Send {action, request_id, ...params}; resolve with the reply's data, or reject
  // with its errors when response_status is not 2xx.
  request(action, params = {}) {
    if (this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("not connected"));
    }
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.socket.send(JSON.stringify({ action, request_id: requestId, ...params }));
    });
  }

  receive(message) {
    if (!("response_status" in message)) {
      this.onEvent(message); // {"action": "create" | "update" | "delete", "pk": ..., "data"?: ...}
      return;
    }
    const waiting = this.pending.get(message.request_id);
    if (!waiting) return;
    this.pending.delete(message.request_id);
    if (message.response_status < 300) {
      waiting.resolve(message.data);
    } else {
      waiting.reject(new Error(describeErrors(message.errors)));
    }
  }
}

function describeErrors(errors) {
  return errors
    .map((error) => (typeof error === "string" ? error : Object.values(error).flat().join(" ")))
    .join(" ");
}

// ---------------------------------------------------------------------------
// Hashtags: the same rule as social/hashtags.py ('#' then Unicode letters,
// digits or underscores; compared without case).

const HASHTAG = /#([\p{L}\p{N}_]+)/gu;

// The server compares tags by Unicode case folding (Python's str.casefold()), which
// JavaScript lacks. Lower, upper, then lower case again gives the same result for
// the letters whose folding is not simply their lower case: "ß" and "ẞ" fold to
// "ss" ("Straße" is "STRASSE"), "ς" to "σ", "ﬁ" to "fi".
function caseFold(text) {
  return text.toLowerCase().toUpperCase().toLowerCase();
}

function normalizeTag(tag) {
  return caseFold(tag.replace(/^#/, "").normalize("NFC")).normalize("NFC");
}

function hashtagsIn(text) {
  return new Set([...text.normalize("NFC").matchAll(HASHTAG)].map((match) => normalizeTag(match[1])));
}

// ---------------------------------------------------------------------------
// The page's state: posts by pk, and the hashtags followed (none: every post).

const config = JSON.parse(document.getElementById("feed-config").textContent);
// Every URL is built from the site's root as the server names it, never from "/":
// behind jupyter-server-proxy the site lives under a path such as
// /user/alice/proxy/8000/, and the WebSocket must go through the same path.
const siteRoot = new URL(config.siteRoot, location.href);
const posts = new Map();
const followed = new Set();
// A link may open the page already following hashtags, as a classroom's projector
// does: ?tag=workshop, or ?tag=python&tag=django for several.
for (const tag of new URLSearchParams(location.search).getAll("tag").map(normalizeTag)) {
  if (/^[\p{L}\p{N}_]+$/u.test(tag)) followed.add(tag);
}
const feed = document.getElementById("feed");

function websocketUrl() {
  const url = new URL("ws/", siteRoot);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"; // wss on an https page
  return url.href;
}

const client = new LiveClient(websocketUrl(), {
  onOpen: () => restoreSubscriptions().then(refreshFeed),
  onProblem: showProblem,
  onEvent: applyEvent,
  onStatus: (state, text) => {
    const status = document.getElementById("status");
    status.dataset.state = state;
    status.textContent = text;
  },
});

// On every (re)connection: the server forgot this connection's subscriptions.
async function restoreSubscriptions() {
  if (followed.size === 0) {
    await client.request("subscribe_to_list");
  }
  for (const tag of followed) {
    await client.request("subscribe_to_hashtag", { hashtag: tag });
  }
}

async function refreshFeed() {
  const newest = await client.request("list");
  posts.clear();
  for (const post of newest) {
    if (isShown(post)) posts.set(post.pk, post);
  }
  render();
}

function isShown(post) {
  if (followed.size === 0) return true;
  return [...hashtagsIn(post.body)].some((tag) => followed.has(tag));
}

// Events carry the body but not the author or time: fetch a post we have not seen.
// A post that matches two followed tags arrives twice: the Map keeps one.
async function applyEvent(event) {
  if (event.action === "delete") {
    posts.delete(event.pk);
  } else if (posts.has(event.pk)) {
    posts.get(event.pk).body = event.data.body;
  } else {
    try {
      const post = await client.request("retrieve", { pk: event.pk });
      posts.set(post.pk, post);
    } catch (error) {
      return; // deleted meanwhile
    }
  }
  render();
}

// ---------------------------------------------------------------------------
// Rendering. Post bodies are always text (textContent, text nodes), never HTML.

function render() {
  const newestFirst = [...posts.values()].sort((a, b) =>
    a.created_at === b.created_at ? b.pk - a.pk : a.created_at < b.created_at ? 1 : -1,
  );
  feed.replaceChildren(...newestFirst.map(renderPost));
  const summary = document.getElementById("filter-summary");
  summary.textContent =
    followed.size === 0 ? "Showing every post, live." : "Showing posts with the hashtags below, live.";
  document.getElementById("filter-list").replaceChildren(
    ...[...followed].map((tag) => {
      const item = document.createElement("li");
      const button = element("button", `#${tag} ✕`, { title: "Stop following" });
      button.dataset.tag = tag;
      button.addEventListener("click", () => unfollow(tag).catch(showProblem));
      item.append(button);
      return item;
    }),
  );
}

function renderPost(post) {
  const item = element("li", null, { className: "post" });
  item.dataset.pk = post.pk;
  const mine = post.author === config.userId;
  const when = new Date(post.created_at).toLocaleString();
  const author = element("span", mine ? "you" : post.author_username, { className: "author" });
  const meta = element("div", null, { className: "meta" });
  meta.append(author, ` · ${when}`);
  item.append(meta);
  const body = element("p", null, { className: "body" });
  body.append(...bodyWithTags(post.body));
  item.append(body);
  if (mine) {
    const actions = element("div", null, { className: "actions" });
    const edit = element("button", "Edit", { className: "edit" });
    edit.addEventListener("click", () => startEditing(item, post));
    const remove = element("button", "Delete", { className: "delete" });
    remove.addEventListener("click", () => client.request("delete", { pk: post.pk }).catch(showProblem));
    actions.append(edit, remove);
    item.append(actions);
  }
  return item;
}

// Text nodes for the words, buttons for the hashtags (clicking one follows it).
function bodyWithTags(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(HASHTAG)) {
    nodes.push(document.createTextNode(text.slice(last, match.index)));
    const tag = element("button", match[0], { className: "tag", title: "Follow this hashtag" });
    tag.addEventListener("click", () => follow(match[1]).catch(showProblem));
    nodes.push(tag);
    last = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function startEditing(item, post) {
  const editor = element("textarea", null, { maxLength: 256, rows: 3, className: "edit-body" });
  editor.value = post.body;
  const save = element("button", "Save", { className: "save" });
  save.addEventListener("click", () =>
    client.request("patch", { pk: post.pk, data: { body: editor.value } }).catch(showProblem),
  );
  const cancel = element("button", "Cancel");
  cancel.addEventListener("click", render);
  item.replaceChildren(editor, save, cancel);
}

function element(tag, text, properties = {}) {
  const node = Object.assign(document.createElement(tag), properties);
  if (text !== null) node.textContent = text;
  return node;
}

function showProblem(error) {
  const target = document.getElementById("compose-error") || document.getElementById("filter-summary");
  target.textContent = error.message;
}

// ---------------------------------------------------------------------------
// Following hashtags narrows the feed; following none shows every post.

async function follow(rawTag) {
  const tag = normalizeTag(rawTag);
  if (!tag || followed.has(tag)) return;
  await client.request("subscribe_to_hashtag", { hashtag: tag });
  if (followed.size === 0) await client.request("unsubscribe_from_list");
  followed.add(tag);
  await refreshFeed();
}

async function unfollow(tag) {
  followed.delete(tag);
  if (followed.size === 0) await client.request("subscribe_to_list");
  await client.request("unsubscribe_from_hashtag", { hashtag: tag });
  await refreshFeed();
}

document.getElementById("add-filter").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const input = document.getElementById("filter-tag");
  follow(input.value)
    .then(() => (input.value = ""))
    .catch(showProblem);
});

// ---------------------------------------------------------------------------
// Composing, and signing in (development sign-in only).

const compose = document.getElementById("compose");
if (compose) {
  const body = document.getElementById("compose-body");
  const count = document.getElementById("compose-count");
  body.addEventListener("input", () => {
    count.textContent = `${body.value.length} / 256`;
    count.classList.toggle("near-limit", body.value.length > 240);
  });
  compose.addEventListener("submit", (submit) => {
    submit.preventDefault();
    document.getElementById("compose-error").textContent = "";
    client
      .request("create", { data: { body: body.value } })
      .then(() => {
        body.value = "";
        body.dispatchEvent(new Event("input"));
      })
      .catch(showProblem);
  });
}

const signIn = document.getElementById("sign-in");
if (signIn) {
  signIn.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const name = document.getElementById("sign-in-name").value;
    // The server sends a browser back to the feed afterwards.
    location.href = new URL(`login/${encodeURIComponent(name)}/`, siteRoot).href;
  });
}

// Show the hashtags a link asked for at once, before the first connection.
render();
