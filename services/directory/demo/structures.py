"""The structures of the demo territory (Drôme, 26): who is where.

Public organisation names (CCAS, France Services, CAF, CPAM, Restos du cœur…) are used as they
exist in every département; associations with a local name are invented. No person is named.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.directory.demo import catalogue as c


@dataclass(frozen=True)
class StructureSpec:
    key: str
    name: str
    kind: str
    commune: str
    typology: str
    networks: tuple[str, ...] = ()
    parent: str | None = None
    website: str | None = None
    hours: str | None = c.H_ADMIN
    extra: tuple[c.Offer, ...] = ()
    description: str | None = None
    complement: str | None = None


# Real national websites (root pages only, so the link checker finds them alive).
CAF = "https://www.caf.fr"
AMELI = "https://www.ameli.fr"
FRANCE_TRAVAIL = "https://www.francetravail.fr"
FRANCE_SERVICES = "https://www.france-services.gouv.fr"
RESTOS = "https://www.restosducoeur.org"
SECOURS_POP = "https://www.secourspopulaire.fr"
PIMMS = "https://www.pimms.org"
JUSTICE = "https://www.justice.fr"
MSA = "https://www.msa.fr"
RETRAITE = "https://www.lassuranceretraite.fr"
MISSION_LOCALE = "https://www.mission-locale.fr"
DROME = "https://www.ladrome.fr"
VALENCE = "https://www.valence.fr"
MONTELIMAR = "https://www.montelimar.fr"
BANQUE_ALIM = "https://www.banquealimentaire.org"
CROIX_ROUGE = "https://www.croix-rouge.fr"
ANIL = "https://www.anil.org"
UNAF = "https://www.unaf.fr"
CONSEILLER_NUMERIQUE = "https://www.conseiller-numerique.gouv.fr"
MON_PARCOURS_HANDICAP = "https://www.monparcourshandicap.gouv.fr"


def dead(path: str) -> str:
    """A link that can never resolve (RFC 2606 `.invalid`): the link checker flags it."""
    return f"https://lien-mort.invalid/{path}"


FS = "france-services"
CCAS = "ccas"

STRUCTURES: tuple[StructureSpec, ...] = (
    # --- CCAS / CIAS -----------------------------------------------------------------------
    StructureSpec(
        "ccas-valence",
        "CCAS de Valence",
        CCAS,
        "26362",
        "CCAS",
        ("ccas-cias",),
        website=VALENCE,
        hours=c.H_ADMIN,
    ),
    StructureSpec(
        "ccas-romans-sur-isere",
        "CCAS de Romans-sur-Isère",
        CCAS,
        "26281",
        "CCAS",
        ("ccas-cias",),
        hours=c.H_ADMIN_SHORT,
    ),
    StructureSpec(
        "ccas-montelimar",
        "CCAS de Montélimar",
        CCAS,
        "26198",
        "CCAS",
        ("ccas-cias",),
        website=MONTELIMAR,
        extra=(c.Offer(c.ECRIVAIN_PUBLIC),),
    ),
    StructureSpec(
        "ccas-bourg-les-valence",
        "CCAS de Bourg-lès-Valence",
        CCAS,
        "26058",
        "CCAS",
        ("ccas-cias",),
        hours=c.H_MAIRIE,
    ),
    StructureSpec(
        "ccas-pierrelatte",
        "CCAS de Pierrelatte",
        CCAS,
        "26235",
        "CCAS",
        ("ccas-cias",),
        website=dead("ccas-pierrelatte"),
    ),
    StructureSpec(
        "ccas-portes-les-valence",
        "CCAS de Portes-lès-Valence",
        CCAS,
        "26252",
        "CCAS",
        ("ccas-cias",),
        hours=c.H_MAIRIE,
    ),
    StructureSpec(
        "ccas-bourg-de-peage",
        "Centre communal d’action sociale de Bourg-de-Péage",
        CCAS,
        "26057",
        "CCAS",
        ("ccas-cias",),
        hours=c.H_MAIRIE,
    ),
    StructureSpec(
        "ccas-crest", "CCAS de Crest", CCAS, "26108", "CCAS", ("ccas-cias",), hours=c.H_ADMIN_SHORT
    ),
    StructureSpec(
        "ccas-nyons", "CCAS de Nyons", CCAS, "26220", "CCAS", ("ccas-cias",), hours=c.H_MAIRIE
    ),
    StructureSpec(
        "cias-diois",
        "CIAS du Diois",
        "ccas",
        "26113",
        "CIAS",
        ("ccas-cias",),
        description="Le centre intercommunal d’action sociale du Diois porte l’action "
        "sociale des 50 communes de la communauté de communes du Diois : aide à "
        "domicile, portage de repas, aides facultatives.",
    ),
    # --- France Services -------------------------------------------------------------------
    StructureSpec(
        "france-services-die",
        "France Services de Die",
        FS,
        "26113",
        "RFS",
        ("france-service",),
        website=FRANCE_SERVICES,
        hours=c.H_FRANCE_SERVICES,
    ),
    StructureSpec(
        "france-services-nyons",
        "France Services Nyons",
        FS,
        "26220",
        "RFS",
        ("france-service",),
        website=FRANCE_SERVICES,
        hours=c.H_FRANCE_SERVICES,
    ),
    StructureSpec(
        "france-services-buis-les-baronnies",
        "France Services Buis-les-Baronnies",
        FS,
        "26063",
        "RFS",
        ("france-service",),
        hours=c.H_RURAL,
    ),
    StructureSpec(
        "france-services-saint-jean-en-royans",
        "France Services du Royans",
        FS,
        "26307",
        "RFS",
        ("france-service",),
        hours=c.H_RURAL,
    ),
    StructureSpec(
        "france-services-dieulefit",
        "France Services Dieulefit-Bourdeaux",
        FS,
        "26114",
        "RFS",
        ("france-service",),
        hours=c.H_FRANCE_SERVICES,
    ),
    StructureSpec(
        "france-services-saint-vallier",
        "France Services Saint-Vallier",
        FS,
        "26333",
        "RFS",
        ("france-service",),
        website=dead("fs-saint-vallier/accueil"),
        hours=c.H_FRANCE_SERVICES,
    ),
    StructureSpec(
        "france-services-la-chapelle-en-vercors",
        "France Services du Vercors",
        FS,
        "26074",
        "RFS",
        ("france-service",),
        hours=c.H_RURAL,
    ),
    StructureSpec(
        "france-services-crest",
        "France Services Crest – Cœur de Drôme",
        FS,
        "26108",
        "RFS",
        ("france-service",),
        website=FRANCE_SERVICES,
        hours=c.H_FRANCE_SERVICES,
    ),
    StructureSpec(
        "france-services-itinerante-baronnies",
        "France Services itinérante des Baronnies",
        "france-services-itinerante",
        "26340",
        "RFS",
        ("france-service",),
        hours=None,
    ),
    # --- PIMMS-like mediation network: one parent, several sites ------------------------------
    StructureSpec(
        "pimms-drome",
        "PIMMS Médiation Drôme",
        "pimms",
        "26362",
        "PIMMS",
        ("pimms-mediation",),
        website=PIMMS,
        description="Réseau de points d’information médiation multi-services de la "
        "Drôme : des médiateurs sociaux accompagnent gratuitement les habitants dans "
        "leurs démarches et les orientent vers le bon service. Labellisé France "
        "Services, certifié NF X60-600 « Médiation sociale ».",
    ),
    StructureSpec(
        "pimms-valence-fontbarlettes",
        "PIMMS Médiation Valence – Fontbarlettes",
        "pimms-site",
        "26362",
        "PIMMS",
        ("pimms-mediation",),
        parent="pimms-drome",
        complement="Quartier Fontbarlettes",
    ),
    StructureSpec(
        "pimms-valence-polygone",
        "PIMMS Médiation Valence – Le Polygone",
        "pimms-site",
        "26362",
        "PIMMS",
        ("pimms-mediation",),
        parent="pimms-drome",
        complement="Quartier du Polygone",
        hours=c.H_ADMIN_SHORT,
    ),
    StructureSpec(
        "pimms-romans-la-monnaie",
        "PIMMS Médiation Romans – La Monnaie",
        "pimms-site",
        "26281",
        "PIMMS",
        ("pimms-mediation",),
        parent="pimms-drome",
        complement="Quartier de la Monnaie",
    ),
    StructureSpec(
        "pimms-montelimar-pracomtal",
        "PIMMS Médiation Montélimar – Pracomtal",
        "pimms-site",
        "26198",
        "PIMMS",
        ("pimms-mediation", "france-service"),
        parent="pimms-drome",
        complement="Quartier Pracomtal",
    ),
    StructureSpec(
        "pimms-pierrelatte",
        "PIMMS Médiation Pierrelatte",
        "pimms-site",
        "26235",
        "PIMMS",
        ("pimms-mediation",),
        parent="pimms-drome",
        website=dead("pimms-pierrelatte"),
    ),
    StructureSpec(
        "pimms-bourg-les-valence",
        "PIMMS Médiation Bourg-lès-Valence",
        "pimms-site",
        "26058",
        "PIMMS",
        ("pimms-mediation",),
        parent="pimms-drome",
        hours=c.H_ADMIN_SHORT,
    ),
    # --- CAF, CPAM, MSA, retraite, MDPH ------------------------------------------------------
    StructureSpec(
        "caf-drome",
        "CAF de la Drôme – accueil de Valence",
        "caf",
        "26362",
        "CAF",
        ("caf",),
        website=CAF,
        hours=c.H_CAISSE,
    ),
    StructureSpec(
        "caf-drome-romans",
        "CAF de la Drôme – point d’accueil de Romans",
        "caf-site",
        "26281",
        "CAF",
        ("caf",),
        parent="caf-drome",
        website=CAF,
        hours="Mo,Tu,Th 08:30-12:00,13:30-16:00; PH off",
    ),
    StructureSpec(
        "caf-drome-montelimar",
        "CAF de la Drôme – point d’accueil de Montélimar",
        "caf-site",
        "26198",
        "CAF",
        ("caf",),
        parent="caf-drome",
        website=CAF,
        hours="Mo-Th 08:30-12:00,13:30-16:00; PH off",
    ),
    StructureSpec(
        "cpam-drome",
        "CPAM de la Drôme – accueil de Valence",
        "cpam",
        "26362",
        "CPAM",
        ("cpam", "cnam"),
        website=AMELI,
        hours=c.H_CAISSE,
    ),
    StructureSpec(
        "cpam-drome-romans",
        "Assurance maladie – accueil de Romans-sur-Isère",
        "cpam-site",
        "26281",
        "CPAM",
        ("cpam",),
        parent="cpam-drome",
        website=AMELI,
        hours="Mo-Fr 08:30-12:30; PH off",
    ),
    StructureSpec(
        "cpam-drome-montelimar",
        "Assurance maladie – accueil de Montélimar",
        "cpam-site",
        "26198",
        "CPAM",
        ("cpam",),
        parent="cpam-drome",
        website=AMELI,
        hours="Mo-Fr 08:30-12:30,13:30-16:00; PH off",
    ),
    StructureSpec(
        "msa-valence",
        "MSA Ardèche Drôme Loire – agence de Valence",
        "msa",
        "26362",
        "MSA",
        ("mutualite-sociale-agricole",),
        website=MSA,
        hours=c.H_CAISSE,
    ),
    StructureSpec(
        "carsat-agence-retraite-valence",
        "Agence retraite Carsat de Valence",
        "carsat",
        "26362",
        "ETABL_PUB",
        (),
        website=RETRAITE,
        hours=c.H_CAISSE,
    ),
    StructureSpec(
        "mda-drome",
        "Maison départementale de l’autonomie de la Drôme (MDPH)",
        "mdph",
        "26362",
        "MDPH",
        ("mdph", "maison-departementale-de-lautonomie"),
        website=MON_PARCOURS_HANDICAP,
    ),
    # --- Legal aid ------------------------------------------------------------------------------
    StructureSpec(
        "point-justice-valence",
        "Point-justice de Valence",
        "point-justice",
        "26362",
        "PAD",
        ("points-justice",),
        website=JUSTICE,
    ),
    StructureSpec(
        "point-justice-romans",
        "Point-justice de Romans-sur-Isère",
        "point-justice",
        "26281",
        "PAD",
        ("points-justice",),
        website=JUSTICE,
        hours=c.H_ADMIN_SHORT,
    ),
    StructureSpec(
        "point-justice-montelimar",
        "Point-justice de Montélimar",
        "point-justice",
        "26198",
        "PAD",
        ("points-justice",),
        website=JUSTICE,
    ),
    StructureSpec(
        "point-justice-die",
        "Point-justice du Diois",
        "point-justice",
        "26113",
        "PAD",
        ("points-justice",),
        hours=c.H_PERMANENCE_2,
        complement="Dans les locaux de France Services",
    ),
    StructureSpec(
        "cidff-drome",
        "CIDFF de la Drôme",
        "cidff",
        "26362",
        "CIDFF",
        ("cidff",),
        description="Le Centre d’information sur les droits des femmes et des "
        "familles informe et accompagne les femmes et les familles : accès au droit, "
        "lutte contre les violences sexistes, emploi.",
    ),
    StructureSpec(
        "france-victimes-drome",
        "France Victimes 26 – aide aux victimes",
        "victimes",
        "26362",
        "ASSO",
        (),
    ),
    # --- Écrivain public, centres sociaux, droits des étrangers ---------------------------------
    StructureSpec(
        "plume-solidaire-valence",
        "Plume solidaire – écrivains publics bénévoles",
        "ecrivain-public",
        "26362",
        "ASSO",
        (),
        hours=c.H_PERMANENCE_1,
        complement="Médiathèque, salle du rez-de-chaussée",
    ),
    StructureSpec(
        "ecrits-partages-romans",
        "Écrits partagés – écrivain public",
        "ecrivain-public",
        "26281",
        "ASSO",
        (),
        hours=c.H_PERMANENCE_3,
    ),
    StructureSpec(
        "centre-social-romans-est",
        "Centre social de Romans Est",
        "centre-social",
        "26281",
        "CS",
        ("fcsf",),
        hours=c.H_ASSO,
    ),
    StructureSpec(
        "centre-social-montelimar-nocaze",
        "Centre social de Nocaze",
        "centre-social",
        "26198",
        "CS",
        ("fcsf",),
        hours=c.H_ASSO,
    ),
    StructureSpec(
        "droits-etrangers-valence",
        "Collectif d’accès aux droits des étrangers de Valence",
        "droits-etrangers",
        "26362",
        "ASSO",
        (),
        hours=c.H_PERMANENCE_1,
    ),
    # --- Food aid --------------------------------------------------------------------------------
    StructureSpec(
        "restos-du-coeur-valence",
        "Les Restos du cœur – centre de Valence",
        "restos",
        "26362",
        "ASSO",
        ("restos-du-coeur",),
        website=RESTOS,
        hours=c.H_FOOD,
    ),
    StructureSpec(
        "restos-du-coeur-romans",
        "Les Restos du cœur – Romans-sur-Isère",
        "restos",
        "26281",
        "ASSO",
        ("restos-du-coeur",),
        website=RESTOS,
        hours=c.H_FOOD_ALT,
    ),
    StructureSpec(
        "restos-du-coeur-montelimar",
        "Les Restos du cœur – Montélimar",
        "restos",
        "26198",
        "ASSO",
        ("restos-du-coeur",),
        website=RESTOS,
        hours=c.H_FOOD,
    ),
    StructureSpec(
        "restos-du-coeur-crest",
        "Les Restos du cœur – Crest",
        "restos",
        "26108",
        "ASSO",
        ("restos-du-coeur",),
        website=RESTOS,
        hours=c.H_FOOD_ALT,
    ),
    StructureSpec(
        "secours-populaire-valence",
        "Secours populaire – comité de Valence",
        "secours-populaire",
        "26362",
        "ASSO",
        ("secours-populaire",),
        website=SECOURS_POP,
        hours=c.H_ASSO,
    ),
    StructureSpec(
        "secours-populaire-pierrelatte",
        "Secours populaire – antenne de Pierrelatte",
        "secours-populaire",
        "26235",
        "ASSO",
        ("secours-populaire",),
        website=SECOURS_POP,
        hours=c.H_FOOD_ALT,
    ),
    StructureSpec(
        "banque-alimentaire-drome",
        "Banque alimentaire Drôme-Ardèche",
        "banque-alimentaire",
        "26252",
        "ASSO",
        ("banques-alimentaires",),
        website=BANQUE_ALIM,
    ),
    StructureSpec(
        "epicerie-solidaire-diois",
        "Épicerie solidaire du Diois",
        "epicerie",
        "26113",
        "ES",
        (),
        hours="Tu 14:00-18:00; Fr 09:00-12:00; PH off",
    ),
    StructureSpec(
        "croix-rouge-nyons",
        "Croix-Rouge française – unité locale de Nyons",
        "croix-rouge",
        "26220",
        "ASSO",
        ("croix-rouge",),
        website=CROIX_ROUGE,
        hours=c.H_FOOD_ALT,
    ),
    # --- Housing and shelter ----------------------------------------------------------------------
    StructureSpec(
        "siao-drome",
        "SIAO de la Drôme – 115",
        "siao",
        "26362",
        "Autre",
        ("siao",),
        hours=c.H_ALWAYS,
    ),
    StructureSpec(
        "chrs-valence", "CHRS Le Tremplin", "chrs", "26362", "CHRS", ("chrs",), hours=c.H_ALWAYS
    ),
    StructureSpec(
        "chrs-montelimar",
        "CHRS Les Tilleuls",
        "chrs",
        "26198",
        "CHRS",
        ("chrs",),
        hours=c.H_ALWAYS,
        website=dead("chrs-les-tilleuls"),
    ),
    StructureSpec(
        "accueil-de-jour-romans",
        "Accueil de jour La Halte",
        "accueil-de-jour",
        "26281",
        "ASSO",
        ("federation-des-acteurs-de-la-solidarite",),
        hours=c.H_DAY_CENTRE,
    ),
    StructureSpec(
        "adil-drome",
        "ADIL de la Drôme – information logement",
        "adil",
        "26362",
        "ASSO",
        (),
        website=ANIL,
    ),
    StructureSpec(
        "habitat-jeunes-valence",
        "Résidence Habitat Jeunes de Valence",
        "fjt",
        "26362",
        "RS_FJT",
        ("residences-fjt",),
    ),
    StructureSpec(
        "udaf-drome",
        "UDAF de la Drôme – Point Conseil Budget",
        "pcb",
        "26362",
        "UDAF",
        ("unaf", "points-conseil-budget"),
        website=UNAF,
    ),
    StructureSpec(
        "pcb-montelimar",
        "Point Conseil Budget Drôme provençale",
        "pcb",
        "26198",
        "ASSO",
        ("points-conseil-budget",),
    ),
    # --- Employment -----------------------------------------------------------------------------
    StructureSpec(
        "france-travail-valence",
        "France Travail Valence Briffaut",
        "france-travail",
        "26362",
        "FT",
        ("france-travail",),
        website=FRANCE_TRAVAIL,
        hours="Mo-We 08:30-16:30; Th 08:30-12:30; Fr 08:30-15:30; PH off",
    ),
    StructureSpec(
        "france-travail-romans",
        "France Travail Romans-sur-Isère",
        "france-travail",
        "26281",
        "FT",
        ("france-travail",),
        website=FRANCE_TRAVAIL,
        hours="Mo-We 08:30-16:30; Th 08:30-12:30; Fr 08:30-15:30; PH off",
    ),
    StructureSpec(
        "france-travail-montelimar",
        "France Travail Montélimar",
        "france-travail",
        "26198",
        "FT",
        ("france-travail",),
        website=FRANCE_TRAVAIL,
        hours="Mo-We 08:30-16:30; Th 08:30-12:30; Fr 08:30-15:30; PH off",
    ),
    StructureSpec(
        "france-travail-crest",
        "France Travail Crest",
        "france-travail",
        "26108",
        "FT",
        ("france-travail",),
        website=FRANCE_TRAVAIL,
        hours="Mo-Th 08:30-12:30; PH off",
    ),
    StructureSpec(
        "mission-locale-valence",
        "Mission locale Valence Agglo",
        "mission-locale",
        "26362",
        "ML",
        ("mission-locale",),
        website=MISSION_LOCALE,
    ),
    StructureSpec(
        "mission-locale-romans",
        "Mission locale Drôme des collines – Royans – Vercors",
        "mission-locale",
        "26281",
        "ML",
        ("mission-locale",),
        website=MISSION_LOCALE,
    ),
    StructureSpec(
        "mission-locale-montelimar",
        "Mission locale Drôme provençale",
        "mission-locale",
        "26198",
        "ML",
        ("mission-locale",),
        website=dead("mission-locale-drome-provencale"),
    ),
    StructureSpec(
        "mission-locale-crest",
        "Mission locale Vallée de la Drôme",
        "mission-locale",
        "26108",
        "ML",
        ("mission-locale",),
        website=MISSION_LOCALE,
    ),
    StructureSpec("plie-valence-romans", "PLIE Valence Romans", "plie", "26362", "PLIE", ("plie",)),
    StructureSpec(
        "cap-emploi-drome",
        "Cap emploi Drôme",
        "cap-emploi",
        "26362",
        "CAP_EMPLOI",
        ("cap-emploi-reseau-cheops",),
    ),
    StructureSpec(
        "plateforme-mobilite-drome",
        "Plateforme mobilité Drôme – En route vers l’emploi",
        "mobilite",
        "26108",
        "ASSO",
        ("wimoov",),
    ),
    # --- Digital inclusion ----------------------------------------------------------------------
    StructureSpec(
        "epn-mediatheque-valence",
        "Espace public numérique de la médiathèque de Valence",
        "epn",
        "26362",
        "EPN",
        ("espaces-publics-numeriques",),
        hours=c.H_EPN,
    ),
    StructureSpec(
        "epn-romans",
        "Cyberbase de Romans-sur-Isère",
        "epn",
        "26281",
        "EPN",
        ("espaces-publics-numeriques", "conseillers-numeriques"),
        hours=c.H_EPN,
    ),
    StructureSpec(
        "conseillers-numeriques-drome",
        "Conseillers numériques du Département de la Drôme",
        "conseillers-numeriques",
        "26362",
        "CD",
        ("conseillers-numeriques", "departements"),
        website=CONSEILLER_NUMERIQUE,
    ),
    # --- Health ---------------------------------------------------------------------------------
    StructureSpec(
        "cmp-valence",
        "Centre médico-psychologique adultes de Valence",
        "cmp",
        "26362",
        "CMP",
        ("cmp",),
        hours=c.H_SOINS,
    ),
    StructureSpec(
        "cmp-montelimar",
        "CMP adultes de Montélimar",
        "cmp",
        "26198",
        "CMP",
        ("cmp",),
        hours=c.H_SOINS,
    ),
    StructureSpec(
        "pass-valence",
        "PASS du centre hospitalier de Valence",
        "pass",
        "26362",
        "ETABL_PUB",
        (),
        hours=c.H_SOINS,
    ),
    StructureSpec(
        "pass-montelimar",
        "PASS du centre hospitalier de Montélimar",
        "pass",
        "26198",
        "ETABL_PUB",
        (),
        hours=c.H_SOINS,
    ),
    StructureSpec(
        "csapa-valence", "CSAPA de Valence", "csapa", "26362", "CSAPA", ("csapa",), hours=c.H_SOINS
    ),
    StructureSpec(
        "sante-sexuelle-valence",
        "Centre de santé sexuelle de Valence",
        "sante-sexuelle",
        "26362",
        "CMS",
        ("cms",),
        hours=c.H_SOINS,
    ),
    # --- Département: centres médico-sociaux ---------------------------------------------------
    StructureSpec(
        "cms-valence",
        "Centre médico-social de Valence Nord",
        "cms",
        "26362",
        "DEPT",
        ("departements",),
        website=DROME,
    ),
    StructureSpec(
        "cms-romans",
        "Centre médico-social de Romans-sur-Isère",
        "cms",
        "26281",
        "DEPT",
        ("departements",),
        website=DROME,
    ),
    StructureSpec(
        "cms-montelimar",
        "Centre médico-social de Montélimar",
        "cms",
        "26198",
        "DEPT",
        ("departements",),
        website=DROME,
    ),
    StructureSpec(
        "cms-die",
        "Centre médico-social de Die",
        "cms",
        "26113",
        "DEPT",
        ("departements",),
        website=DROME,
    ),
    StructureSpec(
        "cms-nyons",
        "Centre médico-social de Nyons",
        "cms",
        "26220",
        "DEPT",
        ("departements",),
        website=dead("cms-nyons"),
    ),
)

KIND_DESCRIPTIONS: dict[str, str] = {
    "ccas": "Le centre communal d’action sociale de {commune} anime l’action sociale de la "
    "commune : accueil et orientation, domiciliation, aides facultatives, accompagnement des "
    "seniors et des bénéficiaires du RSA.",
    "france-services": "Espace France Services labellisé par l’État : un accueil de proximité "
    "pour être accompagné dans ses démarches administratives auprès de neuf partenaires "
    "nationaux (CAF, CPAM, MSA, Assurance retraite, France Travail, finances publiques, ANTS, "
    "La Poste, Justice).",
    "france-services-itinerante": "Un bus aménagé qui apporte les services de France Services "
    "dans les villages isolés des Baronnies, une demi-journée par semaine dans chaque commune.",
    "pimms-site": "Point d’information médiation multi-services du réseau PIMMS Médiation "
    "Drôme : médiation sociale, aide aux démarches, énergie, numérique.",
    "caf": "Caisse d’allocations familiales de la Drôme : prestations familiales, aides au "
    "logement, solidarité (RSA, prime d’activité, AAH) et action sociale.",
    "caf-site": "Point d’accueil de la CAF de la Drôme, sur rendez-vous de préférence.",
    "cpam": "Caisse primaire d’assurance maladie de la Drôme : droits santé, remboursements, "
    "prévention, accompagnement des assurés fragiles.",
    "cpam-site": "Point d’accueil de l’Assurance maladie de la Drôme.",
    "msa": "Protection sociale du monde agricole : santé, famille, retraite, action sociale.",
    "carsat": "Agence de l’Assurance retraite (Carsat Rhône-Alpes) pour les salariés du régime "
    "général : information retraite, demandes de pension, action sociale.",
    "mdph": "La Maison départementale de l’autonomie réunit la MDPH et les services autonomie "
    "du Département pour les personnes handicapées et les personnes âgées.",
    "point-justice": "Point-justice du Conseil départemental de l’accès au droit de la Drôme : "
    "information juridique gratuite, consultations d’avocats, conciliateurs.",
    "victimes": "Association d’aide aux victimes agréée par le ministère de la Justice.",
    "ecrivain-public": "Association d’écrivains publics bénévoles : aide à l’écrit et aux "
    "démarches pour toutes et tous, gratuitement et en toute confidentialité.",
    "centre-social": "Centre social agréé par la CAF : un lieu de proximité ouvert à tous les "
    "habitants du quartier, pour les familles, les jeunes et les seniors.",
    "droits-etrangers": "Collectif associatif qui accompagne les personnes étrangères dans "
    "l’accès à leurs droits.",
    "restos": "Les Restaurants du cœur apportent une aide alimentaire et un accompagnement "
    "vers l’insertion aux personnes démunies.",
    "secours-populaire": "Le Secours populaire français agit contre la pauvreté : aide "
    "alimentaire, vestimentaire, accès aux vacances, à la culture et aux droits.",
    "banque-alimentaire": "La Banque alimentaire collecte et redistribue des denrées aux "
    "associations et CCAS partenaires de la Drôme et de l’Ardèche.",
    "epicerie": "Épicerie solidaire associative ouverte sur orientation des travailleurs "
    "sociaux du Diois.",
    "croix-rouge": "Unité locale de la Croix-Rouge française : aide alimentaire, vestiboutique, "
    "secourisme.",
    "siao": "Le service intégré d’accueil et d’orientation (SIAO) de la Drôme gère le 115 et "
    "oriente les demandes d’hébergement et de logement accompagné.",
    "chrs": "Centre d’hébergement et de réinsertion sociale géré par une association du "
    "secteur de l’accueil, de l’hébergement et de l’insertion.",
    "accueil-de-jour": "Accueil de jour inconditionnel pour les personnes sans abri ou en "
    "grande précarité.",
    "adil": "Agence départementale d’information sur le logement : conseils juridiques, "
    "financiers et fiscaux gratuits sur le logement.",
    "fjt": "Résidence habitat jeunes (foyer de jeunes travailleurs) pour les 16-30 ans.",
    "pcb": "Point Conseil Budget labellisé par l’État : conseil budgétaire gratuit et "
    "prévention du surendettement.",
    "france-travail": "Agence France Travail (anciennement Pôle emploi) : inscription, "
    "indemnisation, accompagnement vers l’emploi et recrutement.",
    "mission-locale": "La mission locale accompagne les jeunes de 16 à 25 ans vers l’emploi et "
    "l’autonomie.",
    "plie": "Plan local pour l’insertion et l’emploi de Valence Romans Agglo.",
    "cap-emploi": "Organisme de placement spécialisé dans l’emploi des personnes handicapées.",
    "mobilite": "Plateforme de mobilité solidaire : conseil, location de véhicules, permis.",
    "epn": "Espace public numérique : ordinateurs en accès libre et ateliers animés par des "
    "conseillers numériques.",
    "conseillers-numeriques": "Les conseillers numériques du Département accompagnent les "
    "habitants vers l’autonomie numérique, en priorité dans les communes rurales.",
    "cmp": "Centre médico-psychologique du secteur de psychiatrie adulte.",
    "pass": "Permanence d’accès aux soins de santé de l’hôpital public.",
    "csapa": "Centre de soins, d’accompagnement et de prévention en addictologie.",
    "sante-sexuelle": "Centre de santé sexuelle du Département (ex-centre de planification).",
    "cms": "Centre médico-social du Département de la Drôme : service social, PMI, insertion.",
    "pimms": "",
}
