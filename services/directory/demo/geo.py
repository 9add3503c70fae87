"""Approximate coordinates of the Drôme communes used by the demo territory.

The repository ships no coordinates file, so this small table gives the approximate centre
(WGS 84, town hall or main square, rounded to about 100 m) of each commune the demo uses. It is
written by hand for the demo and is **approximate**: good enough for maps and distance sorting on
demo data, not a geographic reference. Sites are scattered a few hundred metres around it.
"""

from __future__ import annotations

DEPARTEMENT = "26"

# INSEE code -> (latitude, longitude), approximate.
COORDINATES: dict[str, tuple[float, float]] = {
    "26362": (44.9334, 4.8924),  # Valence
    "26198": (44.5581, 4.7509),  # Montélimar
    "26281": (45.0434, 5.0514),  # Romans-sur-Isère
    "26058": (44.9486, 4.8944),  # Bourg-lès-Valence
    "26235": (44.3775, 4.6967),  # Pierrelatte
    "26252": (44.8753, 4.8764),  # Portes-lès-Valence
    "26057": (45.0375, 5.0536),  # Bourg-de-Péage
    "26165": (44.7717, 4.8428),  # Livron-sur-Drôme
    "26324": (44.3494, 4.7686),  # Saint-Paul-Trois-Châteaux
    "26108": (44.7283, 5.0225),  # Crest
    "26325": (45.2939, 4.8139),  # Saint-Rambert-d'Albon
    "26064": (44.8983, 5.0189),  # Chabeuil
    "26220": (44.3608, 5.1406),  # Nyons
    "26166": (44.7500, 4.8225),  # Loriol-sur-Drôme
    "26313": (44.9717, 4.9553),  # Saint-Marcel-lès-Valence
    "26116": (44.4428, 4.7111),  # Donzère
    "26347": (45.0700, 4.8461),  # Tain-l'Hermitage
    "26124": (44.8386, 4.8900),  # Étoile-sur-Rhône
    "26113": (44.7539, 5.3703),  # Die
    "26037": (44.8619, 4.9414),  # Beaumont-lès-Valence
    "26084": (45.0175, 4.9394),  # Châteauneuf-sur-Isère
    "26301": (45.1228, 4.9847),  # Saint-Donat-sur-l'Herbasse
    "26010": (45.2714, 4.8883),  # Anneyron
    "26333": (45.1794, 4.8181),  # Saint-Vallier
    "26114": (44.5253, 5.0622),  # Dieulefit
    "26307": (45.0194, 5.2919),  # Saint-Jean-en-Royans
    "26063": (44.2758, 5.2711),  # Buis-les-Baronnies
    "26345": (44.2886, 4.8422),  # Suze-la-Rousse
    "26006": (44.7672, 4.9114),  # Allex
    "26289": (44.6972, 5.1953),  # Saillans
    "26167": (44.6153, 5.4461),  # Luc-en-Diois
    "26146": (44.4197, 4.9092),  # Grignan
    "26074": (44.9697, 5.4147),  # La Chapelle-en-Vercors
    "26086": (44.6942, 5.4842),  # Châtillon-en-Diois
    "26176": (44.6431, 4.8767),  # Marsanne
    "26148": (45.2558, 5.0281),  # Hauterives
    "26264": (44.4111, 5.3597),  # Rémuzat
    "26340": (44.2061, 5.5344),  # Séderon
    "26056": (44.5847, 5.1356),  # Bourdeaux
    "26320": (45.0575, 5.2478),  # Saint-Nazaire-en-Royans
    "26168": (44.6653, 5.7072),  # Lus-la-Croix-Haute
    "26215": (44.4942, 5.3914),  # La Motte-Chalancon
    "26193": (44.1747, 5.4411),  # Montbrun-les-Bains
    "26182": (44.3114, 5.1011),  # Mirabel-aux-Baronnies
    "26330": (45.2883, 4.9458),  # Saint-Sorlin-en-Valloire
    "26085": (44.4878, 4.7183),  # Châteauneuf-du-Rhône
    "26357": (44.2856, 4.9328),  # Tulette
    "26045": (44.5411, 4.9342),  # La Bégude-de-Mazenc
}
