"""Notable demo services: which entries answer the queries a mediator types.

Each query maps to demo services (data·inclusion ``id``, source ``relais-demo``) that must come
first for it. Only services every structure of its kind always offers are listed, so they exist,
published, whatever the seed. Geography: Valence 26362, Romans-sur-Isère 26281, Montélimar
26198, Die 26113, Nyons 26220, Crest 26108.
"""

from __future__ import annotations

NOTABLE: dict[str, tuple[str, ...]] = {
    "écrivain public": (
        "drome-plume-solidaire-valence--ecrivain-public",
        "drome-ecrits-partages-romans--ecrivain-public",
        "drome-ccas-montelimar--ecrivain-public",
        "drome-pimms-valence-fontbarlettes--aide-courriers",
    ),
    "dossier retraite": (
        "drome-carsat-agence-retraite-valence--preparer-retraite",
        "drome-france-services-itinerante-baronnies--retraite",
    ),
    "logement urgence / hébergement d'urgence / 115": (
        "drome-siao-drome--115",
        "drome-chrs-valence--hebergement-insertion",
        "drome-accueil-de-jour-romans--accueil-de-jour",
    ),
    "caf / allocations familiales / apl / prime d'activité": (
        "drome-caf-drome--accueil",
        "drome-caf-drome-romans--accueil",
        "drome-caf-drome-montelimar--accueil",
    ),
    "cpam / assurance maladie / carte vitale": (
        "drome-cpam-drome--accueil",
        "drome-cpam-drome-romans--accueil",
        "drome-cpam-drome-montelimar--accueil",
    ),
    "css / cmu / complémentaire santé": ("drome-cpam-drome--css",),
    "mdph / aah / rqth": ("drome-mda-drome--dossier-mdph",),
    "msa / agriculteur": ("drome-msa-valence--accueil",),
    "domiciliation / adresse postale sans domicile": (
        "drome-ccas-valence--domiciliation",
        "drome-ccas-romans-sur-isere--domiciliation",
        "drome-ccas-montelimar--domiciliation",
    ),
    "aide alimentaire / colis alimentaire / restos du coeur": (
        "drome-restos-du-coeur-valence--aide-alimentaire",
        "drome-secours-populaire-valence--libre-service-solidaire",
        "drome-croix-rouge-nyons--colis-alimentaires",
        "drome-epicerie-solidaire-diois--epicerie-solidaire",
    ),
    "surendettement / dettes / budget": ("drome-udaf-drome--point-conseil-budget",),
    "violences conjugales": ("drome-cidff-drome--violences",),
    "avocat gratuit / conseil juridique": (
        "drome-point-justice-valence--consultation-avocat",
        "drome-point-justice-valence--information-juridique",
    ),
    "pôle emploi / france travail / inscription chômage": (
        "drome-france-travail-valence--inscription",
        "drome-france-travail-romans--inscription",
        "drome-france-travail-montelimar--inscription",
    ),
    "cej / mission locale / jeunes": (
        "drome-mission-locale-valence--cej",
        "drome-mission-locale-valence--accueil-jeunes",
    ),
    "rsa référent / accompagnement rsa": ("drome-plie-valence-romans--accompagnement-plie",),
    "cmp / psychiatre / santé mentale": (
        "drome-cmp-valence--consultations",
        "drome-cmp-montelimar--consultations",
    ),
    "soins sans mutuelle / pass hôpital": (
        "drome-pass-valence--pass",
        "drome-pass-montelimar--pass",
    ),
    "facture edf / chèque énergie": (
        "drome-pimms-valence-fontbarlettes--energie",
        "drome-pimms-romans-la-monnaie--energie",
    ),
    "initiation informatique / numérique": (
        "drome-epn-mediatheque-valence--initiation",
        "drome-epn-romans--initiation",
    ),
    "démarches en ligne / france services": (
        "drome-france-services-die--accueil",
        "drome-epn-mediatheque-valence--demarches-en-ligne",
    ),
    "impayé de loyer / expulsion": ("drome-adil-drome--prevention-expulsions",),
    "bail / droits du locataire": ("drome-adil-drome--conseil-juridique-logement",),
    "titre de séjour / asile": ("drome-droits-etrangers-valence--droits-etrangers",),
    "alcool / addiction / cannabis": ("drome-csapa-valence--addictions",),
    "permis de conduire / mobilité / location scooter": (
        "drome-plateforme-mobilite-drome--plateforme-mobilite",
    ),
    "contraception / ivg / dépistage": ("drome-sante-sexuelle-valence--sante-sexuelle",),
    "victime agression": ("drome-france-victimes-drome--aide-victimes",),
    "logement jeune / fjt": ("drome-habitat-jeunes-valence--logement-jeunes",),
    "seniors isolés": ("drome-pimms-drome--mediation-seniors",),
    "assistante sociale / pmi": ("drome-cms-valence--accueil-social",),
    "handicap emploi / cap emploi": ("drome-cap-emploi-drome--cap-emploi",),
}
