import GenCore
