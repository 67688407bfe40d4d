"""The local target: processes that stand in for AWS and Buy with Prime on this machine."""
