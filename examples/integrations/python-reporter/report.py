#!/usr/bin/python3
"""Report one evidence entry into a Partner's status as a partnergov integration.

Server-side apply on the status subresource with the official kubernetes client
(Debian's python3-kubernetes), as the kubeconfig's identity and its own field
manager:

    /usr/bin/python3 examples/integrations/python-reporter/report.py \\
        --kubeconfig integration.kubeconfig --namespace partners \\
        --partner northwind-resellers --metric training-completions --value 44 \\
        --field-manager northwind-lms

The server stamps the entry's source and trustedVia; a refused report (another
partner, an untrusted metric) exits 1 with the server's reason.
"""
import argparse
import datetime
import json
import sys

from kubernetes import client, config

GROUP, VERSION, PLURAL = "governance.partnergov.io", "v1alpha1", "partners"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", help="kubeconfig of the integration's identity (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--namespace", help="the partner's namespace (default: the kubeconfig context's)")
    p.add_argument("--partner", required=True, help="the Partner to report evidence for")
    p.add_argument("--metric", required=True, help="the catalog metric reported")
    p.add_argument("--value", required=True, help='the value, a decimal such as "44" or "4.5"')
    p.add_argument("--field-manager", required=True, help="the integration's field manager")
    args = p.parse_args()

    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    namespace = args.namespace or config.list_kube_config_contexts(args.kubeconfig)[1]["context"].get("namespace", "default")
    # patch_namespaced_custom_object_status sends merge-patch+json and takes no
    # content type in python3-kubernetes 22.x; the client's default headers win
    # over the method's, so this client sends a server-side apply instead.
    api_client.set_default_header("Content-Type", "application/apply-patch+yaml")
    observed_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Only the entry this integration owns: the server merges it into
    # status.evidence by its metric and leaves other integrations' entries alone.
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Partner",
        "metadata": {"name": args.partner, "namespace": namespace},
        "status": {"evidence": [{"metric": args.metric, "value": args.value, "observedAt": observed_at}]},
    }
    try:
        stored = client.CustomObjectsApi(api_client).patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, args.partner,
            json.dumps(body),  # JSON is YAML; a str is sent as it is
            field_manager=args.field_manager,
            force=True,  # the integration is this entry's one source; the server still refuses others' entries
        )
    except client.ApiException as e:
        try:
            message = json.loads(e.body)["message"]
        except (TypeError, ValueError, KeyError):
            message = e.body or e.reason
        print(f"report.py: the server refused the report ({e.status} {e.reason}): {message}", file=sys.stderr)
        return 1

    for entry in stored.get("status", {}).get("evidence", []):
        if entry.get("metric") == args.metric:
            print(f"reported {args.metric}={entry.get('value')} for {namespace}/{args.partner} "
                  f"as {entry.get('source')} (trusted via {entry.get('trustedVia')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
