"""Records every AWS call a process makes (botocore.s ``before-parameter-build`` event on every client):
one JSON line per call with the IAM action's service prefix, the operation and the parameters
that name a resource. Standard library and botocore only: it runs inside the deployables."""

import json
import threading

RESOURCE_PARAMS = (
    "TableName",
    "IndexName",
    "SecretId",
    "QueueUrl",
    "RequestItems",
    "TransactItems",
    "Name",
    "Entries",
    "Bucket",
    "Key",
)


def install(path):
    import botocore.session

    lock = threading.Lock()
    original = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)

        def record(model, params, **_):
            service = model.service_model.signing_name or model.service_model.endpoint_prefix
            named = {key: params[key] for key in RESOURCE_PARAMS if key in params}
            if "RequestItems" in named:
                named["RequestItems"] = sorted(named["RequestItems"])
            if "Entries" in named:  # PutEvents: only the bus each entry names
                named["Entries"] = [
                    {"EventBusName": entry.get("EventBusName", "default")} for entry in named["Entries"]
                ]
            if "TransactItems" in named:
                named["TransactItems"] = sorted(
                    {item[kind]["TableName"] for item in named["TransactItems"] for kind in item}
                )
            line = json.dumps({"service": service, "operation": model.name, "params": named})
            with lock, open(path, "a") as out:
                out.write(line + "\n")

        client.meta.events.register("before-parameter-build", record)
        return client

    botocore.session.Session.create_client = create_client
