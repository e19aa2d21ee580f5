"""OS images: platform image versions per location, Compute Gallery image versions, what a scale set's instances run.

Ground truth (cited in tests/emulator/README.md, "OS images"):
* VirtualMachineImages_List (``.../locations/{loc}/publishers/{pub}/artifacttypes/vmimage/offers/{offer}/skus/{sku}/
  versions``) answers a bare JSON array of ``{location, name, id}`` like the extension versions list; the emulator
  sorts the names as strings, so the order is not numeric (``2024.1.10`` before ``2024.1.9``).
* GalleryImageVersions_ListByGalleryImage (``.../galleries/{g}/images/{definition}/versions``) is paged; each version has
  ``properties.publishingProfile.{excludeFromLatest, targetRegions[{name, regionalReplicaCount}]}`` and
  ``properties.provisioningState``. ``latest`` resolves to the highest version not excluded from latest, succeeded and
  replicated to the scale set's region (Microsoft Learn, "Azure Compute Gallery" / "Image versions").
* A VM reports the version it runs as ``storageProfile.imageReference.exactVersion`` (the VM list examples).
"""

from .extensions import version_key

LATEST = "latest"
# The key of the OS image among a scale set's per-instance versions (no extension name holds a NUL).
IMAGE_KEY = "\x00image"
DEFAULT_PLATFORM = [
    {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
     "versions": ["24.04.202409120", "24.04.202411030", "24.04.202501140", "24.04.202409300"]},
    {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition",
     "versions": ["20348.2700.240905", "20348.2849.241106", "20348.2966.241205", "20348.2849.241009"]},
]
GALLERY_API = "Microsoft.Compute/galleries"


def _region(name):
    return str(name or "").replace(" ", "").lower()


class ImageCatalog:
    """Platform image versions per (location, publisher, offer, sku) and gallery image versions per definition."""

    def __init__(self, spec=None):
        spec = spec or {}
        self._platform = {}
        for entry in list(DEFAULT_PLATFORM) + list(spec.get("platform") or []):
            for location in entry.get("locations") or ["*"]:
                key = (location.lower(), entry["publisher"].lower(), entry["offer"].lower(), entry["sku"].lower())
                self._platform[key] = [str(v) for v in entry.get("versions") or []]
        self._gallery = {}
        for entry in spec.get("galleries") or []:
            key = (entry["resource_group"].lower(), entry["gallery"].lower(), entry["image"].lower())
            self._gallery[key] = [dict(name=str(v["name"]), exclude=bool(v.get("exclude_from_latest", False)),
                                       state=v.get("provisioning_state", "Succeeded"),
                                       regions=list(v.get("regions") or [entry.get("location", "eastus")]))
                                  for v in entry.get("versions") or []]

    def platform_versions(self, location, publisher, offer, sku):
        key = (publisher.lower(), offer.lower(), sku.lower())
        found = self._platform.get((location.lower(),) + key)
        return found if found is not None else self._platform.get(("*",) + key)

    def gallery_versions(self, resource_group, gallery, image):
        return self._gallery.get((resource_group.lower(), gallery.lower(), image.lower()))

    def target(self, image, location):
        """The version an OS upgrade installs for a scale set's ``image`` spec in ``location`` (None: none)."""
        if image.get("gallery"):
            names = [v["name"] for v in self.gallery_versions(image["resource_group"], image["gallery"], image["image"]) or []
                     if not v["exclude"] and v["state"] == "Succeeded" and _region(location) in map(_region, v["regions"])]
        else:
            names = self.platform_versions(location, image["publisher"], image["offer"], image["sku"]) or []
        return max(names, key=version_key) if names else None

    @staticmethod
    def render_platform(sub, location, publisher, offer, sku, names):
        base = ("/Subscriptions/%s/Providers/Microsoft.Compute/Locations/%s/Publishers/%s/ArtifactTypes/VMImage/Offers/%s/"
                "Skus/%s/Versions/" % (sub, location, publisher, offer, sku))
        return [{"location": location, "name": name, "id": base + name} for name in sorted(names)]

    @staticmethod
    def render_gallery_version(sub, resource_group, gallery, image, version):
        return {"name": version["name"], "type": GALLERY_API + "/images/versions", "location": _region(version["regions"][0]),
                "id": "%s/versions/%s" % (gallery_image_id(sub, resource_group, gallery, image), version["name"]),
                "properties": {"provisioningState": version["state"],
                               "publishingProfile": {"excludeFromLatest": version["exclude"],
                                                     "targetRegions": [{"name": region, "regionalReplicaCount": 1}
                                                                       for region in version["regions"]]}}}


def gallery_image_id(sub, resource_group, gallery, image):
    return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s/images/%s" % (sub, resource_group, GALLERY_API, gallery, image)


def normalize(spec, sub, resource_group):
    """A scenario ``image`` entry: platform ``{publisher, offer, sku, version}`` or gallery ``{gallery, image,
    resource_group?, version}``; ``version`` defaults to ``latest``."""
    if not spec:
        return None
    image = dict(spec)
    image["version"] = str(image.get("version", LATEST))
    if image.get("gallery"):
        image.setdefault("resource_group", resource_group)
        image.setdefault("subscription", sub)
    return image


def model_reference(image):
    """The model's ``imageReference`` for an ``image`` spec."""
    if image.get("gallery"):
        ref = gallery_image_id(image["subscription"], image["resource_group"], image["gallery"], image["image"])
        return {"id": ref if image["version"] == LATEST else "%s/versions/%s" % (ref, image["version"])}
    return {"publisher": image["publisher"], "offer": image["offer"], "sku": image["sku"], "version": image["version"]}


def vm_reference(image, version):
    """A VM's ``imageReference``: the model's, with ``exactVersion`` the version it runs."""
    ref = model_reference(image)
    if version is not None:
        ref["exactVersion"] = version
    return ref


def initial_versions(image, installed, capacity, target):
    """{instance index: image version} from the scenario's ``installed_image`` (a version, ``latest`` or a map with
    ``default``); ``latest`` (and the default) is the catalog's target, or the pinned version."""
    per_instance = dict(installed) if isinstance(installed, dict) else {}
    default = per_instance.pop("default", None) if isinstance(installed, dict) else installed
    fallback = target if image["version"] == LATEST else image["version"]

    def resolve(value):
        return fallback if value is None or str(value) == LATEST else str(value)

    versions = {i: resolve(default) for i in range(capacity)}
    for index, value in per_instance.items():
        if 0 <= int(index) < capacity:
            versions[int(index)] = resolve(value)
    return versions
