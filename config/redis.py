"""The raw Redis client, key naming and Lua loading shared by every app's Redis module."""

import functools
import importlib.resources
import re

from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis
from redis.client import Pipeline
from redis.cluster import ClusterPipeline
from redis.commands.core import Script
from redis.exceptions import NoScriptError


def client() -> Redis:
    """The process-wide Redis client (django-redis pool of the default cache)."""
    return get_redis_connection("default")


def key(*parts: str | int) -> str:
    """A key under the project prefix: key("{camp:7}", "next") -> "fc:{camp:7}:next"."""
    return ":".join((settings.REDIS_KEY_PREFIX, *map(str, parts)))


# A line "-- include: lib/x.lua" in a script stands for that file of the same
# package's scripts/, "-- include: config:lib/x.lua" for one of another package
# (Lua code shared by several scripts; Redis runs each script as one source).
_INCLUDE = re.compile(r"^-- include: (?:(\w+):)?(\S+\.lua)$", re.MULTILINE)


def script_source(package: str, name: str) -> str:
    """The source of <package>/scripts/<name>.lua with its includes pasted in."""

    def read(owner: str, path: str) -> str:
        return importlib.resources.files(owner).joinpath("scripts", *path.split("/")).read_text()

    return _INCLUDE.sub(lambda line: read(line[1] or package, line[2]), read(package, f"{name}.lua"))


class LuaScript(Script):
    """redis-py's Script, called the short way: EVALSHA straight on the client, and on NOSCRIPT (the
    server's script cache lost) loaded and asked again, as Script does. redis-py's own call imports
    and checks for pipelines first on every call: about a third of a claim's Redis time in Python."""

    def __call__(self, keys=None, args=None, client=None):
        if client is None:
            client = self.registered_client
        if isinstance(client, Pipeline | ClusterPipeline):
            return super().__call__(keys=keys, args=args, client=client)
        keys, args = keys or (), args or ()
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = client.script_load(self.script)
            return client.evalsha(self.sha, len(keys), *keys, *args)


def script_register(package: str, name: str) -> LuaScript:
    """<package>/scripts/<name>.lua (includes pasted in), to call; each app's `_script` keeps one per name."""
    return LuaScript(client(), script_source(package, name))


@functools.cache
def _script(name: str) -> Script:
    return script_register("config", name)


def token_take(*, key: str, burst: int, per_second: float, now_ms: int | None = None) -> int:
    """Spend one token of a lone bucket (scripts/token_bucket.lua): 0 if spent, else ms until one is there."""
    args = [burst, per_second, "" if now_ms is None else now_ms]
    return int(_script("token_bucket")(keys=[key], args=args, client=client()))


class ScriptBatch:
    """Several Lua script calls in one round trip (a non-transactional pipeline).

    redis-py's own pipelines send SCRIPT EXISTS before every execute, which
    doubles the round trips; this queues EVALSHA directly and, for any call the
    server answers NOSCRIPT (its script cache was lost in a restart), loads the
    script and runs that call again on its own. A NOSCRIPT call did not run, so
    running it again is safe for every script.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Script | None, list, list]] = []

    def add(self, script: Script, keys: list, args: list) -> None:
        self.calls.append((script, keys, args))

    def add_command(self, *command: str | int) -> None:
        """A plain command (e.g. "ZREM", key, *members) riding in the same round trip."""
        self.calls.append((None, [], list(command)))

    def execute(self) -> list:
        if not self.calls:
            return []
        redis_client = client()
        pipe = redis_client.pipeline(transaction=False)
        for script, keys, args in self.calls:
            if script is None:
                pipe.execute_command(*args)
            else:
                # execute_command, not pipe.evalsha: a RedisCluster pipeline blocks the
                # latter but routes EVALSHA by its first key like any keyed command.
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        replies = pipe.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                script, keys, args = self.calls[index]
                replies[index] = script(keys=keys, args=args, client=redis_client)
        return replies
