"""Redis Cluster behind django-redis: one RedisCluster client per process, found from seed nodes (docs/scaling.md).

django-redis has no cluster client (jazzband/django-redis#208, #606: "pluggable
clients, do it outside"), and its connection factory builds
`Redis(connection_pool=...)`, while redis-py's RedisCluster keeps a pool per node
itself. So the factory here builds the cluster client once per process and URL,
and the client class treats every address in LOCATION as a seed of that one
cluster (the default client would take the second and later ones for replicas).
"""

import threading
from urllib.parse import urlsplit

from django_redis.client import DefaultClient
from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.exceptions import TimeoutError as RedisTimeoutError


def seed_nodes(url: str) -> list[tuple[str, int]]:
    """ "redis://a:7000,redis://b:7001" (or "redis://a:7000,b:7001") -> [("a", 7000), ("b", 7001)]."""
    nodes = []
    for part in url.split(","):
        address = urlsplit(part.strip() if "://" in part else f"redis://{part.strip()}")
        nodes.append((address.hostname or "127.0.0.1", address.port or 6379))
    return nodes


class FirstcomeRedisCluster(RedisCluster):
    def script_load(self, script):
        """SCRIPT LOAD on every primary that answers.

        redis-py sends it to all primaries at once and fails if any is down; a Script
        call falls back to it on NOSCRIPT, so one dead master would stop every script
        not yet cached on the live ones, i.e. campaigns and rooms that live elsewhere.
        """
        sha, error = None, None
        for node in self.get_primaries():
            try:
                sha = self.execute_command("SCRIPT LOAD", script, target_nodes=node)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                error = exc
        if sha is None:
            raise error or RedisConnectionError("no primary to load the script on")
        return sha


class ClusterConnectionFactory(ConnectionFactory):
    # One client per process and URL: RedisCluster is thread-safe, and Django makes
    # a cache backend (hence a connection factory) per thread.
    _clusters: dict[str, RedisCluster] = {}
    _lock = threading.Lock()

    def connect(self, url: str) -> RedisCluster:
        cluster = self._clusters.get(url)
        if cluster is None:
            with self._lock:
                cluster = self._clusters.get(url)
                if cluster is None:
                    cluster = self._clusters[url] = self._new_cluster(url)
        return cluster

    def _new_cluster(self, url: str) -> RedisCluster:
        params = self.make_connection_params(url)
        options = ("username", "password", "socket_timeout", "socket_connect_timeout")
        kwargs = {name: params[name] for name in options if name in params}
        if "max_connections" in self.pool_cls_kwargs:
            kwargs["max_connections"] = self.pool_cls_kwargs["max_connections"]  # per node
        first = url.split(",")[0].strip()  # credentials and options come from the first URL
        others = [ClusterNode(host, port) for host, port in seed_nodes(url)[1:]]
        try:
            return FirstcomeRedisCluster(url=first, startup_nodes=others, **kwargs)
        except RedisClusterException as exc:
            # No seed answered: the same "store down" as a refused standalone connection (503, not 500).
            raise RedisConnectionError(f"no node of the Redis Cluster at {url} answers: {exc}") from exc

    def disconnect(self, connection: RedisCluster) -> None:
        """The client is shared by every thread of the process: nothing to close per request."""


class ClusterClient(DefaultClient):
    """The default django-redis client on one RedisCluster (settings: REDIS_CLUSTER)."""

    def __init__(self, server, params, backend) -> None:
        super().__init__(server, params, backend)
        self._server = [",".join(self._server)]  # all seeds of one cluster, not a primary and its replicas
        self._clients = [None]
        self.connection_factory = ClusterConnectionFactory(options=self._options)
