#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` / `npx cdk deploy` (docs/infrastructure.md).

Offline synth without the CLI: `CDK_OUTDIR=cdk.out .venv/bin/python app.py`.
"""

import aws_cdk as cdk

from infra.synth import add_nag_checks, cdk_context, create_stack

# The CLI passes cdk.json's context too; reading it here makes `python app.py` identical.
app = cdk.App(context=cdk_context())
create_stack(app)
add_nag_checks(app)
app.synth()
