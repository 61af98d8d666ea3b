"""The multi-process topology (nginx, gateways, Rasa, Redis with Sentinel) on one machine:
`make cluster`, and the launcher tests and benches use. Not imported by the product."""

from frontdesk.cluster.configs import MASTER, NginxLimits
from frontdesk.cluster.launcher import Cluster
from frontdesk.cluster.process import ClusterError
from frontdesk.cluster.ready import Ports

__all__ = ["MASTER", "Cluster", "ClusterError", "NginxLimits", "Ports"]
