"""Launch Debian's chromium or firefox-esr through Playwright (never `playwright install`), or say how to get one.

Firefox runs unpatched over WebDriver BiDi (`channel="moz-firefox"`; Playwright's own Juggler build cannot be
downloaded here). playwright stays below 1.65 (pyproject.toml): 1.65 sends `emulation.setMediaFeaturesOverride`
on every new context, which Firefox ESR 153 answers with "unknown command"; 1.64 sends no such call.

Both browsers get an HTTP(S) proxy on a loopback socket (`proxy_port`) that the tests own: whatever a browser
tries to fetch from anywhere but loopback lands there, so a test can assert that nothing did. Firefox also
gets a profile with the background services that phone home switched off (`FIREFOX_PREFS`) and Mozilla's own
test switch `MOZ_DISABLE_NONLOCAL_CONNECTIONS=1`, under which it opens no socket to a non-local address
(without a proxy, a navigation to 192.0.2.1 closes the page instead of connecting).

Checked with `strace -f -e trace=connect,sendto,sendmmsg` over the whole folder: every connect is to
127.0.0.1, no DNS query is sent; chromium's one other connect is its IPv6 probe, a UDP socket to
2001:4860:4860::8888 connected and closed without a datagram.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Browser:
    name: str
    executable: str
    package: str  # the Debian package that installs `executable`


BROWSERS = {
    "chromium": Browser("chromium", os.environ.get("INSPECTOR_CHROMIUM", "/usr/bin/chromium"), "chromium"),
    "firefox": Browser("firefox", os.environ.get("INSPECTOR_FIREFOX", "/usr/bin/firefox-esr"), "firefox-esr"),
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Debian's build still asks update.googleapis.com for components, accounts.google.com for the signed-in
    # accounts and content-autofill.googleapis.com about the page's form fields despite the flags above (the
    # trap test caught each): send them to the discard port
    "--component-updater=url-source=http://127.0.0.1:9/",
    "--gaia-url=http://127.0.0.1:9/",
    "--autofill-server-url=http://127.0.0.1:9/",
]
LOOPBACK = "localhost,127.0.0.1,[::1]"
# On top of the prefs Playwright writes for every Firefox profile (normandy's URL, safebrowsing, connectivity
# checks, extension and search updates: packages/playwright-core/src/server/bidi/third_party/firefoxPrefs.ts).
FIREFOX_PREFS: dict[str, object] = {
    "network.proxy.type": 1,  # manual: http and https go to the tests' loopback trap...
    "network.proxy.share_proxy_settings": False,
    "network.proxy.no_proxies_on": LOOPBACK,  # ...except the mock itself
    "network.proxy.allow_hijacking_localhost": False,
    "network.proxy.failover_direct": False,  # the trap refusing must not mean "go direct"
    "network.trr.mode": 5,  # no DNS over HTTPS
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.predictor.enabled": False,
    "network.http.http3.enable": False,
    "network.captive-portal-service.enabled": False,
    "captivedetect.canonicalURL": "",
    "network.connectivity-service.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.shutdownPingSender.enabled": False,
    "toolkit.telemetry.newProfilePing.enabled": False,
    "toolkit.telemetry.firstShutdownPing.enabled": False,
    "toolkit.telemetry.updatePing.enabled": False,
    "toolkit.telemetry.bhrPing.enabled": False,
    "toolkit.coverage.endpoint.base": "",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "app.update.auto": False,
    "app.update.url": "",
    "extensions.systemAddon.update.enabled": False,
    "extensions.systemAddon.update.url": "",
    "extensions.blocklist.enabled": False,
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-widevinecdm.enabled": False,
    "browser.region.update.enabled": False,
    "browser.region.network.url": "",
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.google4.gethashURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    # Remote settings: release builds ignore this override unless MOZ_DISABLE_NONLOCAL_CONNECTIONS=1 (set in
    # `launch`), and skip all remote activity when it is exactly this value (services/settings/Utils.sys.mjs).
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "security.OCSP.enabled": 0,
    "dom.push.enabled": False,
    "dom.push.connection.enabled": False,
    "dom.push.serverURL": "",
    "geo.provider.network.url": "",
    "identity.fxaccounts.enabled": False,
    "browser.discovery.enabled": False,
    "browser.topsites.contile.enabled": False,
    "browser.urlbar.quicksuggest.enabled": False,
    "browser.ml.enable": False,
    "media.peerconnection.enabled": False,
}


def install_hint(name: str) -> str:
    browser = BROWSERS[name]
    return f"no {name} at {browser.executable}: apt-get install -y {browser.package}"


INSTALL = "no playwright: install the test extras (make install, or pip install -e '.[test]')"


def missing(name: str = "chromium") -> str | None:
    """Why this browser cannot start here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return INSTALL
    executable = BROWSERS[name].executable
    if not (os.path.exists(executable) or shutil.which(executable)):
        return install_hint(name)
    return None


def launch(playwright: Any, name: str = "chromium", *, proxy_port: int = 9) -> Any:
    """The browser, headless; every request not to loopback goes to 127.0.0.1:`proxy_port` (9: refused)."""
    executable = BROWSERS[name].executable
    if name == "chromium":
        proxy = {"server": f"http://127.0.0.1:{proxy_port}", "bypass": LOOPBACK}
        return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, proxy=proxy)
    prefs = {**FIREFOX_PREFS, "network.proxy.http": "127.0.0.1", "network.proxy.http_port": proxy_port}
    prefs.update({"network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": proxy_port})
    env = {**os.environ, "MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1"}  # Mozilla's test switch: refuse non-local sockets
    return playwright.firefox.launch(
        executable_path=executable, channel="moz-firefox", firefox_user_prefs=prefs, env=env
    )
