"""`flask wechat …` commands."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

wechat_cli = AppGroup("wechat", help="WeChat official account tools.")


@wechat_cli.command("menu")
@click.option("--show", is_flag=True, help="Print the menu instead of publishing it.")
def menu(show: bool):
    """Publish the custom menu (to the sandbox's fake API when WECHAT_SANDBOX is on)."""
    from wechatpy.exceptions import WeChatClientException

    from wechat.menu import menu_definition, publish_menu

    if show:
        click.echo(json.dumps(menu_definition(), ensure_ascii=False, indent=2))
        return
    try:
        answer = publish_menu()
    except WeChatClientException as exc:
        raise click.ClickException(f"menu/create refused: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"menu published: {json.dumps(answer, ensure_ascii=False)}")
