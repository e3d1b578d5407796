"""`firmpass serve` and `firmpass server adduser | demo`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    db: Optional[str] = typer.Option(None, "--db", help="Server database URL (postgresql+psycopg://...); default SQLite DATA/server.db."),
    data: Path = typer.Option(Path("firmpass-data"), "--data", help="Directory for uploaded images, scans and the SQLite database."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler (tcp://host:8786); default a LocalCluster in this process."),
    vulns: Optional[str] = typer.Option(None, "--vulns", help="Vulnerability store (file or URL); default as `firmpass scan`."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", help="Dask workers of the LocalCluster: scans run at once."),
    processes: bool = typer.Option(False, "--processes/--threads",
                                   help="LocalCluster workers as processes (a killed worker's scan is run again "
                                        "on another) or as threads of the server (default)."),
    pdf: bool = typer.Option(False, "--pdf/--no-pdf", help="Write report.pdf for every scan."),
    max_upload_mb: int = typer.Option(1024, "--max-upload-mb", help="Largest accepted upload, MiB."),
    secure_cookies: Optional[bool] = typer.Option(None, "--secure-cookies/--no-secure-cookies",
                                                  help="Secure cookie flag; default on unless --host is loopback."),
    notify: Optional[Path] = typer.Option(None, "--notify", help="Notification settings (YAML, as `firmpass watch --notify`): "
                                          "e-mail and/or webhook on a newly exploited vulnerability."),
) -> None:
    """Run the team server (pages and /api/v1). 运行团队服务器（网页与 /api/v1）。"""
    import uvicorn

    from firmpass.notify import load_config
    from firmpass.server.app import Settings, create_app

    cfg = Settings(data=data, db=db, scheduler=scheduler, vulns_db=vulns, pdf=pdf,
                   max_upload=max_upload_mb << 20, workers=workers, processes=processes,
                   secure_cookies=(host not in LOOPBACK) if secure_cookies is None else secure_cookies,
                   notify=load_config(notify) if notify else {})
    application = create_app(cfg)
    n = application.state.srv.resume()
    typer.echo(f"firmpass server on http://{host}:{port}/ (data {data}; {n} unfinished scans queued again)"
               f" / firmpass 服务器已启动")
    uvicorn.run(application, host=host, port=port, log_level="warning")


def adduser(
    email: str = typer.Argument(...),
    org: str = typer.Option(..., "--org", help="Organisation (created when new)."),
    role: str = typer.Option("analyst", "--role", help="admin, analyst or viewer."),
    data: Path = typer.Option(Path("firmpass-data"), "--data"),
    db: Optional[str] = typer.Option(None, "--db"),
) -> None:
    """Add a user to an organisation (password from $FIRMPASS_PASSWORD or asked). 添加用户。"""
    from firmpass.server.app import Server, Settings
    from firmpass.server.auth import add_user

    pw = os.environ.get("FIRMPASS_PASSWORD") or typer.prompt("password / 密码", hide_input=True,
                                                            confirmation_prompt=True)
    srv = Server(Settings(data=data, db=db))
    with srv.Session() as s:
        add_user(s, email, pw, org, role)
        s.commit()
    srv.close()
    typer.echo(f"{email}: {role} in {org} / 已添加")


def _store_image(srv: Any, image: Path) -> str:
    """Copy IMAGE into the server's read-only image store (once per content); return its sha256."""
    import hashlib
    import shutil

    h = hashlib.sha256(image.read_bytes()).hexdigest()
    dest = srv.image_path(h)
    if not dest.exists():
        shutil.copyfile(image, dest)
        os.chmod(dest, 0o440)
    return h


def _demo_product(s: Any, prof: dict[str, Any], email: str, password: str) -> Any:
    """The demo admin user, its organisation and the profile's product (each created when missing)."""
    from firmpass.server.auth import add_user
    from firmpass.server.db import Org, Product

    add_user(s, email, password, "Demo", "admin")
    org = s.query(Org).filter_by(name="Demo").one()
    p = s.query(Product).filter_by(org_id=org.id, name=prof["product"]["name"]).one_or_none()
    if p is None:
        p = Product(org_id=org.id, name=prof["product"]["name"], profile=prof)
        s.add(p)
        s.flush()
    return p


def demo(
    image: Path = typer.Argument(..., help="Firmware image to scan for the demo product."),
    profile: Path = typer.Option(..., "--profile"),
    data: Path = typer.Option(Path("firmpass-data"), "--data"),
    vulns: Optional[str] = typer.Option(None, "--vulns"),
    email: str = typer.Option("demo@example.com", "--email"),
    password: str = typer.Option("firmpass-demo", "--password"),
) -> None:
    """Create the demo organisation, user and product, and scan IMAGE (no cluster). 创建演示数据并扫描。"""
    from firmpass.profile import _plain, load_profile
    from firmpass.server.app import Server, Settings
    from firmpass.server.db import Scan, Version

    srv = Server(Settings(data=data, vulns_db=vulns))
    prof = _plain(load_profile(profile))
    h = _store_image(srv, image)
    with srv.Session() as s:
        p = _demo_product(s, prof, email, password)
        v = Version(product_id=p.id, label=str(prof["product"].get("firmware_version") or image.name), filename=image.name,
                    sha256=h, size=image.stat().st_size, uploaded_by=email, shipped=1)
        s.add(v)
        s.flush()
        sc = Scan(version_id=v.id, status="queued", attempts=0)
        s.add(sc)
        s.flush()
        srv.run_now(s, sc)
        s.refresh(sc)
        typer.echo(f"demo product {p.name} version {v.label}: scan {sc.status}; sign in as {email} / {password}")
    srv.close()


def register(app: typer.Typer) -> None:
    """Add `serve` and the `server` group (adduser, demo) to APP."""
    app.command("serve")(serve)
    server_app = typer.Typer(help="Team server administration. 团队服务器管理。", no_args_is_help=True)
    server_app.command("adduser")(adduser)
    server_app.command("demo")(demo)
    app.add_typer(server_app, name="server")
