"""`exec=ssh`: commands on remote hosts over pooled paramiko connections (SPEC I.5).

paramiko is imported only by a run that has an ssh task (or validates ssh hosts).
"""
